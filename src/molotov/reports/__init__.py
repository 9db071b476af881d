"""What a run leaves: the summary, thresholds, the JSON, CSV and HTML reports, moloreport."""
