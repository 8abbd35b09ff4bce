"""Shared test support: finding the services, event factories, waiting on conditions."""
