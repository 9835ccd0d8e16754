"""runfolder stage."""
