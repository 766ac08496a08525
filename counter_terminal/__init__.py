"""Everything at the window: the clerk's page, the GPIO button box and the customer's evaluator."""
