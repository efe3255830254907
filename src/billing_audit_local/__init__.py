"""The local cloud: moto in server mode on loopback, resources from the same definitions as production."""
