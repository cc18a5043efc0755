{
  "targets": [
    {
      "target_name": "tcpwhy_native",
      "sources": ["tcpwhy_native.c"],
      "include_dirs": ["../build"],
      "cflags": ["-std=gnu11", "-Wall", "-Wno-unused-parameter", "-O2"],
      "libraries": ["-lbpf", "-lelf", "-lz"]
    }
  ]
}
