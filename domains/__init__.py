"""Built-in domain plugins, each written exactly as a third-party plugin (see README: adding a domain)."""
