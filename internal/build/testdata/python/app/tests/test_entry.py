import pytest  # tests are not part of the artifact (pytest is not there)
