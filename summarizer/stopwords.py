"""Words that are never tags, as frozensets written here (nothing is read from a file).

Holds the lists `summarizer.tags` filters with: function words of the Latin-script languages our feeds
carry (English, German, Portuguese, French, Spanish), URL parts, units and measure words, generic
Chinese nouns and verbs that name no topic, and English words that are capitalised only because they
open a headline. Everything is lower case; callers lower-case before looking up. Data only: no logic.
"""

from __future__ import annotations

__all__ = [
    "FUNCTION_WORDS",
    "GENERIC_LATIN",
    "GENERIC_ZH",
    "NAME_CONNECTORS",
    "UNITS",
    "URL_PARTS",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ENGLISH = _words(
    """
    a an the and or but nor so yet if then than that this these those there here
    i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves one ones
    who whom whose which what whatever whoever when where why how whether while
    am is are was were be been being have has had having do does did doing done
    will would shall should can could may might must ought need dare
    not no yes only also too very just even still ever never always often again already
    of in on at by for from with without within into onto upon about above below over under
    after before during until since through throughout between among against toward towards
    across along around behind beyond near off out up down via per like unlike despite
    as because although though unless whereas
    all any both each either neither every some such other another same own few many much
    more most less least several enough
    isn't aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't won't wouldn't
    shan't shouldn't can't cannot couldn't mustn't mightn't needn't
    i'm you're we're they're he's she's it's that's there's here's what's who's where's how's let's
    i've you've we've they've i'd you'd he'd she'd we'd they'd i'll you'll he'll she'll we'll they'll
    it'll that'll there'll ain't y'all
    """
)

_GERMAN = _words(
    """
    der die das den dem des ein eine einer einen einem eines kein keine keiner keinen keinem
    und oder aber doch sondern denn weil dass ob wenn als wie wo was wer wen wem wessen
    ich du er sie es wir ihr mich dich sich uns euch mir dir ihm ihn ihnen
    mein meine dein deine sein seine ihre unser unsere euer eure
    ist sind war waren bin bist seid wird werden wurde wurden worden sei hat haben hatte hatten
    kann können konnte muss müssen soll sollen will wollen darf dürfen mag möchte
    nicht auch noch schon nur sehr mehr hier dort jetzt dann so gibt
    in im ins an am ans auf aus bei beim mit nach seit von vom vor zu zum zur über unter
    durch für gegen ohne um bis zwischen neben hinter während wegen trotz
    dieser diese dieses diesen diesem jeder jede jedes alle allen man zwei drei vier
    """
)

_PORTUGUESE = _words(
    """
    o a os as um uma uns umas e ou mas nem que se de do da dos das no na nos nas em
    ao aos à às pelo pela pelos pelas por para com sem sob sobre entre até desde após
    eu tu ele ela nós vós eles elas me te lhe nos vos lhes meu minha teu tua seu sua
    nosso nossa este esta isto esse essa isso aquele aquela aquilo
    é são foi foram era eram ser ter tem têm tinha há está estão estava
    não sim já mais menos muito muita muitos muitas também só ainda quando onde como
    qual quais quem cujo durante dentro fora algum alguma alguns algumas outro outra outros outras
    todo toda todos todas dois duas três pode podem deve devem vai vão diz dizem quer faz fazem fica ficou
    """
)

_FRENCH = _words(
    """
    le la les l' un une des du de d' au aux et ou mais donc ni car que qui quoi dont où
    je tu il elle nous vous ils elles me te se lui leur leurs mon ma mes ton ta tes son sa ses
    notre nos votre vos ce cet cette ces est sont était être avoir a ont avait fait
    pas ne plus très aussi dans sur sous pour par avec sans chez entre vers comme
    """
)

_SPANISH = _words(
    """
    el la los las un una unos unas y o pero ni que de del al en con sin por para sobre entre
    hasta desde hacia según yo tú él ella nosotros ellos ellas me te se le les lo mi tu su sus
    nuestro nuestra este esta esto ese esa eso es son fue era ser estar está están ha han hay
    no sí muy más menos también ya como cuando donde quien cual
    """
)

# Articles, pronouns, prepositions, conjunctions, auxiliaries and contractions, in any of the five.
FUNCTION_WORDS: frozenset[str] = _ENGLISH | _GERMAN | _PORTUGUESE | _FRENCH | _SPANISH

# Small words a multi-word name may hold inside: "State of the Union", "Bank of England",
# "Ludwig von Mises", "Banco do Brasil". Never at either end of a name.
NAME_CONNECTORS: frozenset[str] = _words("of the and & de da do dos das del di du la von van y")

# Pieces of web and mail addresses: what is left of a link when a feed prints it as words.
URL_PARTS: frozenset[str] = _words(
    """
    http https www ftp mailto html htm shtml xhtml php asp aspx jsp cgi rss xml url uri
    com cn net org gov edu info biz io co uk de fr br pt jp hk tw ru eu
    """
)

# Units and measure words: they tell how much, never what about.
UNITS: frozenset[str] = _words(
    """
    km kg cm mm mg ml kb mb gb tb ghz mhz hz kw kwh mw mah fps mph kmh km/h ms rpm dpi ppi
    同比 环比 万元 亿元 千元 百元 万美元 亿美元 万亿 百分点 个百分点 人次 万人次 万人 亿人
    公里 千米 公斤 千克 公顷 平方米 平方公里 立方米 千瓦 万千瓦 千瓦时 兆瓦 吨 万吨 亿吨
    """
)

# Chinese nouns and verbs the corpus and the eval set turned into tags although they name no topic: each
# fits any article ("工具" in "债务融资工具", "成员" in "世贸组织成员", "版本" in every software note).
GENERIC_ZH: frozenset[str] = _words(
    """
    工具 版本 成员 问题 情况 方面 工作 时间 记者 表示 进行 发展 报告 预计 贡献 专属 文本 营业
    大量 功能 效果 团队 计划 记录 建议 研究 分析 区别 感觉 意思 有点 经历 环节 官方 首款 基石
    时隔 入门 水面 品质 升级 服务 国家 人民 祝贺 热烈祝贺 三大 专栏 刊文 标准 规划 崇尚 铭记
    牢记 抚平 嘉宾 高空 总结 原理 立志 高手 机制 体系 项目 方案 平台 系统 上线 挑战 深度 意见
    措施 条件 对策 方向 评价 辅助 研究进展 综述 经验 特性 结构 关系 传统 原则 笔者 集体 年限
    程度 水平 能力 作用 规模 数量 质量 效率 对象 因素 形式 过程 特点 目标 任务 措施 手段 途径
    """
)

# Latin-script words that open headlines and menus and mean nothing as a tag ("Top 10", "New:",
# "Read more", "Live"), plus web words ("App", "Download") that footers add to every item.
GENERIC_LATIN: frozenset[str] = _words(
    """
    top new more read live best first latest breaking update updates watch video photos pictures
    news today week year day days time thing things way part says said say report reports
    app apps download click here home page via photo image images full story
    end set key takes giving puts gets stop found
    jahr woche neue neues neuer dia fim
    """
)
