"""The screening engine: watchlist parsers, name normalisation and the matcher.

Plain Python and numpy; nothing here touches the ORM."""
