"""The deployment: configuration templates (nginx, supervisord, Sentinel) and, in
`deploy.cluster`, the launcher and failure drills that run them on 127.0.0.1."""
