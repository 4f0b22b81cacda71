"""Alert rules: breathlessness x form degradation against personal baselines. Pure."""
