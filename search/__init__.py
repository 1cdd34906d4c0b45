"""Search engines behind one interface (embedded and Elasticsearch), the tokeniser they share,
ranking features and reindexing."""
