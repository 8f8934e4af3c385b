"""The ground floor: settings, errors, slugs, the CSV loader, typed contracts, atomic writes and
process supervision. Imports nothing from training, serving, gateway, ui or the operations layer."""
