"""The desk's numbers: the figures a supervisor steers their team by and an admin the desk."""
