"""Staff consoles: the grid worker's inbox and case page (/w) and the community dispatcher's board (/d)."""
