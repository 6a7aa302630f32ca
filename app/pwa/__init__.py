"""The resident PWA: its static files (pwa/resident), service worker, manifest and the page helpers."""
