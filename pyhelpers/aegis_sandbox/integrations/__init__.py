"""Evaluators for the search frameworks people run, through aegis-sandbox:
the framework calls them in its own process, and every program it
evolves is judged in the sandbox instead (candidate code never runs in
the framework's process).

    aegis_sandbox.integrations.openevolve   OpenEvolve's evaluate(program_path)
    aegis_sandbox.integrations.shinka       ShinkaEvolve's evaluate.py
    aegis_sandbox.integrations.mlflow       each judged candidate as an MLflow run
"""
