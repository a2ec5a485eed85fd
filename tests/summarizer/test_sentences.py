"""split_sentences on Chinese, English and mixed text."""

from summarizer import split_sentences


def test_chinese_terminators_keep_closing_quotes() -> None:
    text = "他说：“我们会赢。”然后走了。真的吗？！是的……好吧；再见"
    assert split_sentences(text) == [
        "他说：“我们会赢。”", "然后走了。", "真的吗？！", "是的……", "好吧；", "再见"
    ]


def test_closing_brackets_stay_attached() -> None:
    assert split_sentences("（完。）下一句。「好！」』最后") == ["（完。）", "下一句。", "「好！」』", "最后"]


def test_english_abbreviations_initials_and_decimals() -> None:
    text = "Mr. Smith paid $3.14 for 1.6% of U.S. shares on Jan. 5. J. K. Rowling agreed, e.g. twice. Done!"
    assert split_sentences(text) == [
        "Mr. Smith paid $3.14 for 1.6% of U.S. shares on Jan. 5.",
        "J. K. Rowling agreed, e.g. twice.",
        "Done!",
    ]


def test_english_quotes_and_ellipsis() -> None:
    assert split_sentences('He said "hi." Then left... Fine? Yes') == [
        'He said "hi."', "Then left...", "Fine?", "Yes"
    ]


def test_mixed_chinese_and_english() -> None:
    text = "微软发布了 Windows 11。It costs $99.99 now. 售价1.6万元！"
    assert split_sentences(text) == ["微软发布了 Windows 11。", "It costs $99.99 now.", "售价1.6万元！"]


def test_list_numbers_are_not_sentence_ends() -> None:
    assert split_sentences("原则：1.解决问题；2.从人开始") == ["原则：1.解决问题；", "2.从人开始"]


def test_paragraph_breaks_always_end_a_sentence() -> None:
    assert split_sentences("没有句号的标题\n\n正文第一句。正文\n第二行") == [
        "没有句号的标题", "正文第一句。", "正文", "第二行"
    ]


def test_whitespace_and_empty_pieces_dropped() -> None:
    assert split_sentences("  \n\n 。。 \n  好。  ") == ["好。"]
    assert split_sentences("") == []
