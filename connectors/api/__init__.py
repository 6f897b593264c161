"""API connectors: a member of staff's public lists fetched from an open platform's API
(Bluesky, Mastodon, Roblox) instead of an uploaded export.

Each module registers one connector in ``auditor.registry.api_connectors``; ``run`` stores
what a connector fetched through the same path as an imported export. Importing this package
does nothing else: the network is used only when ``auditor fetch …`` is run by name.
"""
