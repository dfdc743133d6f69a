"""The organization's audit log: who changed what on its account, recorded where the change is made."""
