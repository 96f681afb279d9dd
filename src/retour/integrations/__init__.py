"""Adapters to the outside world (carrier APIs over HTTP). They implement the ports declared by the
features (``retour.shipment.carriers.CarrierAdapter``), speak only HTTP and plain data, and never
touch the database or the pages: a handler reloads the state, calls an adapter, and records what it
answered."""
