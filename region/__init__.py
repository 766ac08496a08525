"""hallq-region: the company's server. Each hall's Pi ships its event log here; the region keeps
it in PostgreSQL with aggregates for reports across halls, and shows every hall live."""
