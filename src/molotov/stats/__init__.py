"""The stats bus and the values read from it: histograms, snapshots, the endpoint table."""
