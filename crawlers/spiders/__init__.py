"""Spiders: the generic `ListingSpider`; per-site subclasses only where a site needs one."""
