"""Provider clients (OpenDota, Steam, Stratz) behind one interface, with typed models and errors."""
