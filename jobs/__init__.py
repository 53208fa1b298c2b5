"""Jobs: the model (no torch, no SQLAlchemy), the fair scheduler, the service that accepts,
follows and cancels jobs, and the ``Backend`` seam their runner plugs into."""
