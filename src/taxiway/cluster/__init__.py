"""Scale-out: engines in Ray actors on a cluster (`TAXIWAY_EXECUTOR=ray`), placed by the resources an
operator declares per model. Importing this package needs nothing; its Ray modules need `taxiway[cluster]`.
"""
