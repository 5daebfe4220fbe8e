"""The action server (rasa-sdk): one module per capability; thin wrappers over crm services."""
