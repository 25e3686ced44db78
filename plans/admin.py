"""Plans are not in the admin: the practice admin manages people and settings and reads no
clinical content (people/access.py), and a plan's goals are clinical text."""
