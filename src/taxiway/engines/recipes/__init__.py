"""Recipes: compositions of catalog calls run as one task (see `catalog.recipes`)."""
