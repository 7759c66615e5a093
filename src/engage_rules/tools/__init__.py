"""Tools over playbooks and stores: reports, explain, replay comparison, playbook tests."""
