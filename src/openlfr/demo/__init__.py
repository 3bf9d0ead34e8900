"""The demo story (`openlfr demo`): the whole life of a deployment on the bundled sample
data, through the same use cases the API, the pages and the node use."""
