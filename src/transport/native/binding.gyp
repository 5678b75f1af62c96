{
  "targets": [
    {
      "target_name": "zmpi_native",
      "sources": ["zmpi_native.c", "zmpi_shm.c", "zmpi_socket.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "conditions": [["OS!='linux'", {"type": "none", "sources": []}]]
    }
  ]
}
