"""OrchestraLink's deploy tooling: what `make deploy-local` and its lifecycle
commands run.

It bootstraps nothing itself (infrastructure/scripts/bootstrap.sh does, before
Python is there); it builds the functions, layer and dashboard, starts
Mosquitto and the local cloud under supervisord, deploys template.yaml through
CloudFormation, runs the migrations, uploads the dashboard, starts the
simulator and prints where everything is.
"""
