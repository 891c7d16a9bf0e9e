"""Dashboard routers: login, pages, actions and live data."""
