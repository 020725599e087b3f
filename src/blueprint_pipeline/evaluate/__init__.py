"""Closed-loop evaluation: a generated task as a Gymnasium environment (env.py), the policies
`blueprint eval` runs in it (policies.py) and the evaluation run with its summary (run.py)."""
