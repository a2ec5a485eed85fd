"""Where articles come from: Markdown posts, RSS/Atom feeds (parsing and HTTP fetching) and OPML lists.

Parsing here is pure; fetching takes an injected aiohttp.ClientSession. Nothing here touches the database.

Errors (all one line, `str(err)` = "where: reason"):

    SourceError
     ├── PostParseError     parse_post
     ├── FeedParseError     parse_feed
     ├── FeedFetchError     fetch_feed
     └── OpmlError          parse_opml

Import from the modules (bot.sources.posts, .feeds, .files, .opml, .types): the package itself imports
nothing, so that importing one light module (types) does not load the parsers and their libraries.
"""
