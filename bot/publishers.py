"""Publishers' own sites, for items that carry no link of their own (the RSS-to-blog pipeline's posts have
none): the reader still gets somewhere to open. Names as the posts spell their `author`."""

from __future__ import annotations

SITES = {
    "观察者网": "https://www.guancha.cn/",
    "cnBeta": "https://www.cnbeta.com.tw/",
    "快科技（原驱动之家）": "https://news.mydrivers.com/",
    "快科技": "https://news.mydrivers.com/",
    "36kr": "https://36kr.com/",
    "36氪": "https://36kr.com/",
    "财联社": "https://www.cls.cn/",
    "IT 之家": "https://www.ithome.com/",
    "IT之家": "https://www.ithome.com/",
    "AcFun": "https://www.acfun.cn/",
    "Bangumi": "https://bgm.tv/",
    "喷嚏网": "https://www.dapenti.com/",
    "澎湃新闻": "https://www.thepaper.cn/",
    "新华社": "https://www.news.cn/",
    "人民日报": "https://www.people.com.cn/",
}


def site_link(publisher: str) -> str | None:
    """The publisher's home page, when newsbot knows it."""
    return SITES.get(publisher.strip())
