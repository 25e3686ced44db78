"""The invented demo practice (`manage.py seed_demo`); its public names are in demo.practice."""
