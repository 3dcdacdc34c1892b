"""Airspace: zone model, zone-file importers, local (ENU) geometry and spatial queries."""
