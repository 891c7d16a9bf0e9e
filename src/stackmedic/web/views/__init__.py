"""View models: plain data the dashboard's templates and live JSON are made of."""
