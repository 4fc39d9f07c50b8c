"""Business logic of the shop, kept out of the routes."""
