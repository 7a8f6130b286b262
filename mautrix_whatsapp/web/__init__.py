"""The bridge's web side: the provisioning API and the login page (served on the appservice
port)."""
