"""The CRM: models, data access, services and demo seed. Never imports FastAPI or Rasa."""
