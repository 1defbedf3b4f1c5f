// DMA remapper: invalidation, DMI, timing, waves and the IOTLB access stream.
