"""One module per command; each function parses options, calls the library, prints."""
