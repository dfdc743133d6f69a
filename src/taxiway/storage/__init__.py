"""Where outputs live: a blob store behind an interface, and expiring signed URLs to them."""
