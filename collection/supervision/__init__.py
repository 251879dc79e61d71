"""The supervisors' pages: the escalation requests and off-policy plans awaiting their decision,
and the team board with its reassignments. A supervisor sees and acts on their own teams' cases
only (collection.access); an admin on every case; anyone else is told the pages do not exist."""
