"""meshctl: the mesh's topology (from the service definitions) and the code that starts it, in local
mode and in the images; the intentions model the operators' CLI and the frontend share."""
