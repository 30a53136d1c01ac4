"""The lake: where everything lands and is published, on local disk or in an EU object
store. `paths` derives every path from one root (`Lake`); `lock` and `lease` keep to one
writer at a time; `residency` refuses a non-EU location; `object_store` and `storage` make
local and S3 paths behave alike."""
