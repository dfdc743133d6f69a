"""The web console at /console, the landing page at / and the API reference at /docs and /redoc,
all served from files inside the package: no CDN, nothing fetched at run time."""
