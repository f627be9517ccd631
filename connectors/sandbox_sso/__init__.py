"""Server side of SSO for the LMS sandbox: login handlers it mounts on its routes."""
