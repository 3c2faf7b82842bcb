"""ecsdeploy's local AWS world: moto in server mode plus an ECS control-plane
simulator in the same process. Start it with scripts/world; see world/README.md."""
