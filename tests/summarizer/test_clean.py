"""html_to_text / markdown_to_text: paragraphs, dropped furniture, entities, white space, images."""

from summarizer import CleanText, html_to_text, markdown_to_text
from summarizer.clean import one_line, strip_control_characters


def test_html_keeps_paragraphs_and_drops_scripts_and_players() -> None:
    html = (
        "<div>   \n<p>\n第一段。\n</p>"
        "<script>var x = 1;</script><style>p{}</style>"
        '<p align="center"><iframe src="https://v.qq.com/x"></iframe></p>'
        "<p>第二段<br>第三段</p><noscript>开启脚本</noscript></div>"
    )
    assert html_to_text(html) == CleanText(text="第一段。\n\n第二段\n\n第三段", images=[])


def test_html_drops_boilerplate_lines_only() -> None:
    html = (
        "<p>正文一句。</p>"
        '<p align="center"><a href="https://mp.weixin.qq.com/s/x"><span>点击此处观看原视频</span></a></p>'
        "<p>本文系观察者网独家稿件，未经授权，不得转载。</p>"
        '<p class="end"> - THE END -</p><p class="zhuanzai">转载请注明出处：快科技</p>'
        "<p><span>原文链接：<a>游民星空</a></span>\n<span>责任编辑：陈驰</span></p>"
        "<p>点击“检查更新”即可。</p>"
    )
    assert html_to_text(html).text == "正文一句。\n\n点击“检查更新”即可。"


def test_html_unescapes_entities_and_normalizes_spaces() -> None:
    html = "<p>a&#123;b&#125; &amp; c&nbsp;&nbsp;d\u3000\u3000e\u200bf\x07g\t\th</p><p>  </p>"
    assert html_to_text(html).text == "a{b} & c d efg h"


def test_html_inline_text_next_to_blocks_and_table_rows() -> None:
    html = (
        "<div>开头文字<strong>加粗</strong><br>\n <p>段落</p>"
        "<table><tr><td>甲</td><td>乙</td></tr><tr><td>丙</td></tr></table>"
        "<ul><li>一</li><li>二</li></ul><h2>小标题</h2></div>"
    )
    assert html_to_text(html).text == "开头文字加粗\n\n段落\n\n甲 乙\n\n丙\n\n一\n\n二\n\n小标题"


def test_html_collects_images_in_order_without_duplicates_or_data_uris() -> None:
    html = (
        '<p><img src="https://a/1.jpg" title="点击查看大图"></p>'
        '<img data-src="https://a/2.png"><img src="data:image/png;base64,AAAA">'
        '<img src="https://a/1.jpg"><img src="https://a/3.gif">'
    )
    assert html_to_text(html) == CleanText(text="", images=["https://a/1.jpg", "https://a/2.png", "https://a/3.gif"])


def test_plain_text_without_tags() -> None:
    assert html_to_text("第一行\n第二行 &amp; 更多\n\n").text == "第一行\n\n第二行 & 更多"
    wrapped = "This is a\nwrapped line.\n\n中文第一行\n接着写"
    assert html_to_text(wrapped).text == "This is a wrapped line.\n\n中文第一行接着写"
    assert html_to_text("") == CleanText(text="", images=[])
    assert html_to_text(" \n\u3000 ") == CleanText(text="", images=[])


def test_deeply_nested_html_does_not_recurse() -> None:
    html = "<div>" * 5000 + "深" + "</div>" * 5000
    assert html_to_text(html).text == "深"


def test_markdown_light_syntax() -> None:
    md = (
        "---\ntitle: x\n---\n"
        "# 标题 *强调*\n\n"
        "第一行\n第二行 [链接](http://a.example) ![图](http://img.example/1.png)\n\n"
        "- 项目一\n- 项目二 **粗** `code_x`\n\n"
        "```python\nx = {1}\n```\n\n"
        "> 引用 snake_case_name\n"
    )
    assert markdown_to_text(md) == CleanText(
        text=(
            "标题 强调\n\n第一行第二行 链接\n\n项目一\n\n项目二 粗 code_x\n\n"
            "x = {1}\n\n引用 snake_case_name"
        ),
        images=["http://img.example/1.png"],
    )


def test_markdown_with_html_blocks_like_the_corpus() -> None:
    md = (
        '<div>   \n<p>正文&#123;一&#125;。</p>\n<p><img src="https://a/x.jpg"></p>\n'
        "<p>本文系观察者网独家稿件，未经授权，不得转载。</p>\n</div>\n\n"
        "Markdown 段落\n"
    )
    assert markdown_to_text(md) == CleanText(text="正文{一}。\n\nMarkdown 段落", images=["https://a/x.jpg"])


def test_output_shape_never_has_single_newlines() -> None:
    for result in (
        html_to_text("<p>a\nb</p>\n\n\n<p>c</p>"),
        markdown_to_text("a\nb\n\n\n\nc\n"),
    ):
        assert result.text == "a b\n\nc"


# --- control characters (issue #11) -----------------------------------------------------------------


def test_one_line_turns_control_runs_and_white_space_into_one_space() -> None:
    assert one_line("  Breaking\x07\x1b[31m news\x9b1m\n\tnow\x7f ") == "Breaking [31m news 1m now"
    assert one_line("\x00\x1b\x85") == ""
    assert one_line("标题 正常") == "标题 正常"


def test_strip_control_characters_keeps_line_breaks_and_tabs() -> None:
    text = "<p>a\x1b[2Jb</p>\r\n<p>c\td\x07</p>\re\x00f\x9bg"
    assert strip_control_characters(text) == "<p>a[2Jb</p>\n<p>c\td</p>\nefg"
    assert strip_control_characters("plain\ntext\t中文") == "plain\ntext\t中文"


def test_block_elements_nested_deeper_than_any_page_are_read_as_text() -> None:
    """lexbor's cost is quadratic in the depth of nested <div>s (200,000 of them, a 1 MB post: six
    minutes); past MAX_BLOCK_DEPTH the markup is dropped before parsing and the text kept."""
    from summarizer.clean import MAX_BLOCK_DEPTH, parse_html

    deep = "<div>" * (MAX_BLOCK_DEPTH + 1) + "<p>深处的正文</p>" + "</div>" * (MAX_BLOCK_DEPTH + 1)
    assert parse_html(deep).css_first("div") is None
    assert html_to_text(deep).text == "深处的正文"
    # as deep as real pages go, and many blocks side by side: the structure stays
    shallow = ("<div>" * 50 + "<p>一段</p>" + "</div>" * 50) * 100
    assert parse_html(shallow).css_first("div") is not None
    assert html_to_text(shallow).text.count("一段") == 100
